/* dom0's own xenstore page and port, as Linux's xenfs offers them to a
 * xenstored running in dom0 (/proc/xen/xsd_kva and /proc/xen/xsd_port). */
#ifndef STORED_LOCAL_H
#define STORED_LOCAL_H

#include <stdint.h>

#include <xen/xen.h>
#include <xen/event_channel.h>

/* The default xenfs mount point. */
#define LOCAL_XENFS "/proc/xen"

/* Reads the port of dom0's kernel from DIR/xsd_port and maps its page
 * from DIR/xsd_kva (one page, shared, read-write).  0, or -errno with one
 * line logged naming the file. */
int local_store_open(const char *dir, void **page, evtchn_port_t *port);
/* Unmaps what local_store_open mapped; NULL is a no-op. */
void local_store_close(void *page);

#endif
