/* Shared set-up for the fuzz harnesses: a config with one source per vendor. */
#ifndef CALLHOOK_FUZZ_COMMON_H
#define CALLHOOK_FUZZ_COMMON_H

#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "core/conf.h"
#include "vendors/vendor.h"

/* Loads a fixed config (sources named after their vendors) once. */
static inline struct config *
fuzz_config(void)
{
	static struct config *cfg;
	char path[] = "/tmp/callhook-fuzz-XXXXXX";
	FILE *fp;
	int fd;

	if (cfg != NULL)
		return cfg;
	if ((fd = mkstemp(path)) < 0 || (fp = fdopen(fd, "w")) == NULL)
		abort();
	fputs(
	    "[server]\nmax_body = 64k\n"
	    "[source callrail]\nvendor = callrail\nsigning_key = k\n"
	    "[source calltracker]\nvendor = calltracker\ntoken = t\n"
	    "[source salpre]\nvendor = salpre\nheader = X-Api-Key: h\n"
	    "[source callscaler]\nvendor = callscaler\nbasic_auth = u:p\n"
	    "[source fonedynamics]\nvendor = fonedynamics\nallow_unauthenticated = yes\n",
	    fp);
	fclose(fp);
	cfg = vendor_bind_sources(config_load(path));
	unlink(path);
	if (cfg == NULL || cfg->nproblems > 0)
		abort();
	return cfg;
}

#endif
