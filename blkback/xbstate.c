#include "xbstate.h"

unsigned xb_frontend_changed(enum xenbus_state be, int fe, bool online)
{
	switch (fe) {
	case XenbusStateInitialising:
		/* A frontend starting again after Closed: offer the rings
		 * anew. */
		return be == XenbusStateClosed ? XB_INITWAIT : 0;
	case XenbusStateInitialised:
	case XenbusStateConnected:
		/* Two watch events may come in close succession: connect
		 * once.  The disconnect first is what Linux calls enforcing
		 * the precondition (a quick Closing/Connected flip must not
		 * map a second set of rings over the first: XSA-350). */
		if (be == XenbusStateConnected)
			return 0;
		return XB_DISCONNECT | XB_CONNECT;
	case XenbusStateClosing:
		return XB_CLOSING;
	case XenbusStateClosed:
		return XB_DISCONNECT | XB_CLOSED | (online ? 0 : XB_REMOVE);
	case XenbusStateUnknown:
		/* The frontend is gone (a toolstack removing a dead or dying
		 * domain's device: libxl's forced remove deletes the
		 * frontend directory, writes online=0 and waits for the
		 * backend's Closed).  Closed, as Linux's xenbus_dev_remove
		 * writes it. */
		return XB_DISCONNECT | XB_CLOSED | XB_REMOVE;
	default:
		return XB_FATAL;
	}
}
