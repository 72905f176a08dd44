/* Monotonic time, for time bounds and durations. */
#include <time.h>

#include "core/clock.h"

double
mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}
