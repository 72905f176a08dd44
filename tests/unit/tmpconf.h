/* Config files for the unit suites, written to /tmp. */
#ifndef CALLHOOK_TMPCONF_H
#define CALLHOOK_TMPCONF_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Writes text to a new file; returns its path (unlink() and free() it when done). */
static inline char *
write_tmp(const char *text)
{
	char *path = strdup("/tmp/callhook-conf-XXXXXX");
	int fd = mkstemp(path);
	FILE *fp = fdopen(fd, "w");

	fputs(text, fp);
	fclose(fp);
	return path;
}

#endif
