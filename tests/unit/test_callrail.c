/* callrail decoding. */
#include "tap.h"
#include "vendor.h"

void test_callrail(void);

void
test_callrail(void)
{
}
