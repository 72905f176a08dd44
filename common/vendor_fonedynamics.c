/* fonedynamics: decoder to be written. */
#include "vendor.h"

static enum ch_err
fonedynamics_decode(const struct delivery_in *in, struct decoded *d)
{
	(void)in;
	return bad_body(d, "fonedynamics: not supported yet");
}

const struct vendor vendor_fonedynamics = {
	.name = "fonedynamics",
	.methods = M_POST,
	.bodies = BODY_JSON,
	.decode = fonedynamics_decode,
};
