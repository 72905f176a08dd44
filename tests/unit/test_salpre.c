/* salpre decoding. */
#include "tap.h"
#include "vendor.h"

void test_salpre(void);

void
test_salpre(void)
{
}
