/* The backend's xenbus state machine, as a pure function: what to do when
 * the frontend's state changes.  It follows Linux xen-blkback's
 * frontend_changed (drivers/block/xen-blkback/xenbus.c); xenbus.c
 * carries the actions out, in the order of the bits. */
#ifndef PVD_BLKBACK_XBSTATE_H
#define PVD_BLKBACK_XBSTATE_H

#include <stdbool.h>

#include <xen/io/xenbus.h>

enum xb_action {
	XB_FATAL = 1 << 0,       /* unexpected frontend state: error, Closing */
	XB_INITWAIT = 1 << 1,    /* switch to InitWait (reconnect) */
	XB_DISCONNECT = 1 << 2,  /* stop the rings (waits for I/O in flight) */
	XB_CONNECT = 1 << 3,     /* map the rings; Connected, or error + Closing */
	XB_CLOSING = 1 << 4,     /* switch to Closing */
	XB_CLOSED = 1 << 5,      /* switch to Closed */
	XB_REMOVE = 1 << 6,      /* release the device (storage closed) */
};

/* be: our state, fe: the frontend's (XenbusStateUnknown if its node is
 * missing or not a number), online: the toolstack's "online" node. */
unsigned xb_frontend_changed(enum xenbus_state be, int fe, bool online);

#endif
