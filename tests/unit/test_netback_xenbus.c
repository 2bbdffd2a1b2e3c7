/* pvd-netback's xenbus state machine (netback/xbstate.c): what the
 * backend does for each frontend state, after Linux xen-netback's
 * frontend_changed and set_backend_state. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "pvd/xbdev.h"

#include "../../netback/xbstate.h"

#define fc nb_xb_frontend_changed

static void test_handshake(void **state)
{
	/* InitWait is offered at probe; Initialised is not enough. */
	assert_int_equal(fc(XenbusStateInitWait, XenbusStateInitialising, true), 0);
	assert_int_equal(fc(XenbusStateInitialising, XenbusStateInitialising, true),
			 NB_XB_INITWAIT);
	assert_int_equal(fc(XenbusStateInitWait, XenbusStateInitialised, true), 0);
	assert_int_equal(fc(XenbusStateInitWait, XenbusStateConnected, true),
			 NB_XB_CONNECT);
	/* Connect once, whatever the number of watch events. */
	assert_int_equal(fc(XenbusStateConnected, XenbusStateConnected, true), 0);
}

static void test_teardown(void **state)
{
	assert_int_equal(fc(XenbusStateConnected, XenbusStateClosing, true),
			 NB_XB_DISCONNECT | NB_XB_CLOSING);
	assert_int_equal(fc(XenbusStateClosing, XenbusStateClosed, true),
			 NB_XB_CLOSED);
	assert_int_equal(fc(XenbusStateClosing, XenbusStateClosed, false),
			 NB_XB_CLOSED | NB_XB_REMOVE);
	assert_int_equal(fc(XenbusStateConnected, XenbusStateClosed, true),
			 NB_XB_DISCONNECT | NB_XB_CLOSED);
	assert_int_equal(fc(XenbusStateConnected, XenbusStateUnknown, true),
			 NB_XB_DISCONNECT | NB_XB_CLOSED | NB_XB_REMOVE);
}

static void test_restart_and_errors(void **state)
{
	/* A frontend starting over: from Connected the vif goes first. */
	assert_int_equal(fc(XenbusStateClosed, XenbusStateInitialising, true),
			 NB_XB_INITWAIT);
	assert_int_equal(fc(XenbusStateConnected, XenbusStateInitialising, true),
			 NB_XB_DISCONNECT | NB_XB_INITWAIT);
	/* Closed -> InitWait -> Connected, as set_backend_state walks. */
	assert_int_equal(fc(XenbusStateClosed, XenbusStateConnected, true),
			 NB_XB_INITWAIT | NB_XB_CONNECT);
	/* After our error (Closing) a Connected frontend must close first:
	 * no reconnect loop. */
	assert_int_equal(fc(XenbusStateClosing, XenbusStateConnected, true), 0);
	/* Nonsense. */
	assert_int_equal(fc(XenbusStateConnected, XenbusStateInitWait, true),
			 NB_XB_FATAL);
	assert_int_equal(fc(XenbusStateInitWait, 42, true), NB_XB_FATAL);
	assert_int_equal(fc(XenbusStateInitWait, -1, true), NB_XB_FATAL);
}

/* Every pair is defined, and the vif is never connected twice nor left
 * held when leaving Connected. */
static void test_every_pair(void **state)
{
	for (int be = XenbusStateUnknown; be <= XenbusStateReconfigured; be++) {
		for (int fe = -1; fe <= 9; fe++) {
			unsigned a = fc((enum xenbus_state)be, fe, fe & 1);

			assert_int_equal(a & ~0x7fu, 0);
			if (a & NB_XB_FATAL)
				assert_int_equal(a, NB_XB_FATAL);
			if (a & NB_XB_CONNECT)
				assert_true(be != XenbusStateConnected);
			if (be == XenbusStateConnected &&
			    (a & (NB_XB_CLOSING | NB_XB_CLOSED | NB_XB_INITWAIT)))
				assert_true(a & NB_XB_DISCONNECT);
		}
	}
	assert_string_equal(xbdev_state_name(XenbusStateInitWait), "InitWait");
	assert_string_equal(xbdev_state_name(99), "invalid");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_handshake),
		cmocka_unit_test(test_teardown),
		cmocka_unit_test(test_restart_and_errors),
		cmocka_unit_test(test_every_pair),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
