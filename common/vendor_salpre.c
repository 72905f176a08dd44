/* salpre: decoder to be written. */
#include "vendor.h"

static enum ch_err
salpre_decode(const struct delivery_in *in, struct decoded *d)
{
	(void)in;
	return bad_body(d, "salpre: not supported yet");
}

const struct vendor vendor_salpre = {
	.name = "salpre",
	.methods = M_POST,
	.bodies = BODY_JSON,
	.decode = salpre_decode,
};
