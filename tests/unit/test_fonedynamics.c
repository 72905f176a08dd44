/* fonedynamics decoding. */
#include "tap.h"
#include "vendor.h"

void test_fonedynamics(void);

void
test_fonedynamics(void)
{
}
