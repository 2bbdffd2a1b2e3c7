/* pvd-blkback's xenbus state machine (blkback/xbstate.c): what the
 * backend does for each frontend state, after Linux xen-blkback's
 * frontend_changed. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "pvd/xbdev.h"

#include "../../blkback/xbstate.h"

static void test_state_machine(void **state)
{
	/* Connect once, whatever the order of events. */
	assert_int_equal(xb_frontend_changed(XenbusStateInitWait, XenbusStateInitialised, true),
			 XB_DISCONNECT | XB_CONNECT);
	assert_int_equal(xb_frontend_changed(XenbusStateInitWait, XenbusStateConnected, true),
			 XB_DISCONNECT | XB_CONNECT);
	assert_int_equal(xb_frontend_changed(XenbusStateConnected, XenbusStateConnected, true), 0);
	assert_int_equal(xb_frontend_changed(XenbusStateConnected, XenbusStateInitialised, true), 0);
	/* Closing, closed, online or not. */
	assert_int_equal(xb_frontend_changed(XenbusStateConnected, XenbusStateClosing, true),
			 XB_CLOSING);
	assert_int_equal(xb_frontend_changed(XenbusStateClosing, XenbusStateClosed, true),
			 XB_DISCONNECT | XB_CLOSED);
	assert_int_equal(xb_frontend_changed(XenbusStateClosing, XenbusStateClosed, false),
			 XB_DISCONNECT | XB_CLOSED | XB_REMOVE);
	/* A frontend that restarts. */
	assert_int_equal(xb_frontend_changed(XenbusStateClosed, XenbusStateInitialising, true),
			 XB_INITWAIT);
	assert_int_equal(xb_frontend_changed(XenbusStateInitWait, XenbusStateInitialising, true), 0);
	/* Flipping back from Closing reconnects only after a disconnect. */
	assert_int_equal(xb_frontend_changed(XenbusStateClosing, XenbusStateConnected, true),
			 XB_DISCONNECT | XB_CONNECT);
	/* Gone. */
	assert_int_equal(xb_frontend_changed(XenbusStateConnected, XenbusStateUnknown, true),
			 XB_DISCONNECT | XB_CLOSED | XB_REMOVE);
	/* Nonsense. */
	assert_int_equal(xb_frontend_changed(XenbusStateConnected, XenbusStateInitWait, true), XB_FATAL);
	assert_int_equal(xb_frontend_changed(XenbusStateConnected, XenbusStateReconfiguring, true), XB_FATAL);
	assert_int_equal(xb_frontend_changed(XenbusStateInitWait, 99, true), XB_FATAL);
	assert_int_equal(xb_frontend_changed(XenbusStateInitWait, -1, true), XB_FATAL);
	assert_string_equal(xbdev_state_name(XenbusStateInitWait), "InitWait");
	assert_string_equal(xbdev_state_name(42), "invalid");
}

static void test_every_pair_is_defined(void **state)
{
	/* Every backend state against every frontend value, garbage
	 * included: one of the known actions, FATAL exactly for what a
	 * frontend may not be in. */
	const unsigned all = XB_FATAL | XB_INITWAIT | XB_DISCONNECT | XB_CONNECT |
			     XB_CLOSING | XB_CLOSED | XB_REMOVE;

	for (int be = XenbusStateUnknown; be <= XenbusStateReconfigured; be++) {
		for (int fe = -3; fe < 300; fe++) {
			unsigned a = xb_frontend_changed((enum xenbus_state)be, fe, fe & 1);
			bool bad = fe < 0 || fe == XenbusStateInitWait || fe > XenbusStateClosed;

			assert_int_equal(a & ~all, 0);
			assert_int_equal((a & XB_FATAL) != 0, bad);
			/* Never connect without first disconnecting. */
			if (a & XB_CONNECT)
				assert_true(a & XB_DISCONNECT);
		}
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_state_machine),
		cmocka_unit_test(test_every_pair_is_defined),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
