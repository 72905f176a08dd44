/* callrail: decoder to be written. */
#include "vendor.h"

static enum ch_err
callrail_decode(const struct delivery_in *in, struct decoded *d)
{
	(void)in;
	return bad_body(d, "callrail: not supported yet");
}

const struct vendor vendor_callrail = {
	.name = "callrail",
	.methods = M_POST,
	.bodies = BODY_JSON,
	.decode = callrail_decode,
};
