/* callscaler decoding. */
#include "tap.h"
#include "vendor.h"

void test_callscaler(void);

void
test_callscaler(void)
{
}
