/* SPDX-License-Identifier: GPL-2.0 */
#ifndef SFS_SERVER_H
#define SFS_SERVER_H

/*
 * The server: runs in the elected leader's daemon, the only writer of
 * the super block, the shared btrees and the allocators.  Clients (every
 * mount, the leader's too) reach it through net.c.
 */

#include <stdint.h>
#include <sys/socket.h>

#include "sfs.h"

struct sfs_server_opts {
	const struct sockaddr *addr;	/* where to listen (port 0: any) */
	socklen_t addr_len;
	uint64_t term;			/* the quorum term it was elected in */
	/* 0 means the default in brackets */
	uint64_t client_meta_target;	/* a client's avail list is refilled to [1024] */
	uint64_t client_data_target;	/* a client's data_avail is refilled to [1048576] */
	uint64_t server_meta_target;	/* the server's own lists are refilled to [1024] */
	uint64_t meta_reserve;		/* below this much free meta, clients get LOW [3072] */
	uint32_t linger_ms;		/* net session linger [60000] */
};

/*
 * Read the super, set up the allocators, listen.  *bound (may be NULL)
 * gets the address listened on.  fs->block must be set up on both devices.
 */
int sfs_server_start(struct sfs_fs *fs, const struct sfs_server_opts *opts,
		     struct sockaddr_storage *bound);
/* stop answering, finish the batch in hand, free everything; safe twice */
void sfs_server_stop(struct sfs_fs *fs);

#endif
