/*
 * nodes: the node number in this process's IDs (core/ids.h), leased so that
 * no two live processes ever hold the same one, and the owner of this
 * process's job leases.
 *
 * DESIGN
 * The `nodes` table on the first database has a row per node taken: its
 * holder ("host:pid"), an owner (64 random bits, this process's), and the
 * lease's expiry, and the epoch of the shard map the process follows
 * (db/db.h; a shard move waits for every live process to report the map
 * it made). A process takes a node that is free: never taken, or its
 * lease expired, or its holder is a process on this host that no longer
 * exists (so a restart after a crash does not wait for the lease). The
 * `node` setting names one (refused at start-up if taken) or lets the
 * process pick (`auto`). A thread renews the lease every NODES_RENEW_MS,
 * and within a second of the process taking a new map;
 * nodes_ok() is false once the lease may have expired unrenewed, and writes
 * then answer 503 rather than risk an ID another process could make. Taking
 * over a dead holder's node frees the job leases that holder owned.
 */
#ifndef PICOGRAM_NODES_H
#define PICOGRAM_NODES_H

#include <stdbool.h>
#include <stdint.h>

#include "db/db.h"

#define NODES_LEASE_MS 30000
#define NODES_RENEW_MS 5000

typedef struct nodes nodes_t;

/* Takes a node (want: 0 .. IDS_NODES-1, or -1 for any free one), sets the
 * process's ID generator to it and starts renewing. NULL with err. */
nodes_t *nodes_claim(const dbmap_t *map, int want, char *err, size_t errlen);
/* Stops renewing and gives the node back. */
void nodes_release(nodes_t *n);
unsigned nodes_node(const nodes_t *n);
int64_t nodes_owner(const nodes_t *n);
/* Whether the lease certainly still holds. Thread safe. */
bool nodes_ok(nodes_t *n);
/* Whether another live process holds a node (shares these databases). */
bool nodes_shared(nodes_t *n);

#endif
