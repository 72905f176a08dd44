/* Log lines on stderr (the journal under systemd), in PostgreSQL's message style. */
#ifndef CALLHOOK_LOG_H
#define CALLHOOK_LOG_H

#include <stddef.h>
#include "core/err.h"

/* Every level is written: nothing turns one off. */
enum log_level { LOG_ERROR, LOG_WARNING, LOG_INFO };

void log_msg(enum log_level level, const char *fmt, ...) PRINTF(2, 3);

/* Copies `s` into `out` with control characters and quotes escaped; always terminates. */
void log_escape(const char *s, char *out, size_t outlen);

#endif
