/* callhook replay: re-run normalization over stored raw deliveries. */
#ifndef CALLHOOK_REPLAY_H
#define CALLHOOK_REPLAY_H

#include "core/conf.h"

/* Runs "callhook replay [filters]"; argv[0] is "replay". Returns the exit status. */
int replay_main(const struct config *cfg, int argc, char **argv);

#endif
