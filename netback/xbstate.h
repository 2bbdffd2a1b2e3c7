/* pvd-netback's xenbus state machine as a pure function: what to do when
 * the frontend's state changes.  It follows Linux xen-netback's
 * frontend_changed and set_backend_state (drivers/net/xen-netback/
 * xenbus.c): InitWait is offered at probe and again for a frontend that
 * starts over; Connected is reached only from the frontend's Connected
 * (Initialised is not enough: netfront writes its rings, then Connected);
 * a backend leaving Connected disconnects first.  xenbus.c carries the
 * actions out in the order of the bits. */
#ifndef PVD_NETBACK_XBSTATE_H
#define PVD_NETBACK_XBSTATE_H

#include <stdbool.h>

#include <xen/io/xenbus.h>

enum nb_xb_action {
	NB_XB_FATAL = 1 << 0,       /* unexpected state: error node, Closing */
	NB_XB_DISCONNECT = 1 << 1,  /* stop the vif, remove the tap */
	NB_XB_INITWAIT = 1 << 2,    /* switch to InitWait */
	NB_XB_CONNECT = 1 << 3,     /* tap, vif, Connected (or error + Closing) */
	NB_XB_CLOSING = 1 << 4,     /* switch to Closing */
	NB_XB_CLOSED = 1 << 5,      /* switch to Closed */
	NB_XB_REMOVE = 1 << 6,      /* forget the device */
};

/* be: our state; fe: the frontend's (XenbusStateUnknown when its node is
 * missing or not a number); online: the toolstack's "online" node. */
unsigned nb_xb_frontend_changed(enum xenbus_state be, int fe, bool online);

#endif
