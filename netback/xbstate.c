#include "xbstate.h"

/* Where the backend may hold a vif (rings mapped, tap open). */
static bool holds_vif(enum xenbus_state be)
{
	return be == XenbusStateConnected;
}

unsigned nb_xb_frontend_changed(enum xenbus_state be, int fe, bool online)
{
	unsigned disc = holds_vif(be) ? NB_XB_DISCONNECT : 0;

	switch (fe) {
	case XenbusStateInitialising:
		/* set_backend_state(InitWait): from Connected through
		 * Closing and Closed, i.e. the vif goes first. */
		return be == XenbusStateInitWait ? 0 : disc | NB_XB_INITWAIT;
	case XenbusStateInitialised:
		return 0;
	case XenbusStateConnected:
		/* Watches may fire twice: connect once. */
		if (be == XenbusStateInitWait)
			return NB_XB_CONNECT;
		/* Linux's set_backend_state walks Closed -> InitWait ->
		 * Connected.  From Closing (after a fatal error of ours)
		 * nothing: the frontend must close first, or an error would
		 * reconnect in a loop. */
		if (be == XenbusStateClosed)
			return NB_XB_INITWAIT | NB_XB_CONNECT;
		return 0;
	case XenbusStateClosing:
		return disc | NB_XB_CLOSING;
	case XenbusStateClosed:
		return disc | NB_XB_CLOSED | (online ? 0 : NB_XB_REMOVE);
	case XenbusStateUnknown:
		/* The frontend is gone. */
		return disc | NB_XB_CLOSED | NB_XB_REMOVE;
	default:
		return NB_XB_FATAL;
	}
}
