/* callscaler: decoder to be written. */
#include "vendor.h"

static enum ch_err
callscaler_decode(const struct delivery_in *in, struct decoded *d)
{
	(void)in;
	return bad_body(d, "callscaler: not supported yet");
}

const struct vendor vendor_callscaler = {
	.name = "callscaler",
	.methods = M_POST,
	.bodies = BODY_JSON,
	.decode = callscaler_decode,
};
