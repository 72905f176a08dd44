/* Runs every unit suite; needs no server. Prints TAP lines and a summary. */
#include <stdio.h>

#include "tap.h"

int tap_count, tap_failed;

void test_convert(void);
void test_form(void);
void test_json_strict(void);
void test_digest(void);
void test_conf(void);
void test_request(void);
void test_calltracker(void);
void test_callrail(void);
void test_salpre(void);
void test_callscaler(void);
void test_fonedynamics(void);
void test_docs(void);
void test_spool(void);
void test_forget(void);
void test_rowops(void);
void test_batch(void);

int
main(void)
{
	test_convert();
	test_form();
	test_json_strict();
	test_digest();
	test_conf();
	test_request();
	test_calltracker();
	test_callrail();
	test_salpre();
	test_callscaler();
	test_fonedynamics();
	test_docs();
	test_spool();
	test_forget();
	test_rowops();
	test_batch();
	printf("1..%d\n", tap_count);
	printf("# unit: %d passed, %d failed\n", tap_count - tap_failed, tap_failed);
	return tap_failed ? 1 : 0;
}
