/* Monotonic time, for time bounds and durations (never for timestamps that are stored). */
#ifndef CALLHOOK_CLOCK_H
#define CALLHOOK_CLOCK_H

/* Milliseconds on CLOCK_MONOTONIC, with a fraction. */
double mono_ms(void);

#endif
