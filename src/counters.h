/* SPDX-License-Identifier: GPL-2.0 */
#ifndef SFS_COUNTERS_H
#define SFS_COUNTERS_H

/*
 * Counters: one x-macro list, named as the reference names its counters
 * where one exists.  They are cheap (a relaxed atomic add), always on, and
 * read through the run directory and the control socket; tests assert on
 * them.  Counters are not logs.
 */

#include <stdint.h>

#include "sfs.h"

#define SFS_COUNTERS(X)            \
	X(forest_read_items)       \
	X(forest_bloom_pass)       \
	X(forest_bloom_fail)       \
	X(forest_set_bloom_bits)   \
	X(forest_trees_read)       \
	X(server_commit)           \
	X(server_stable_sync_sent) \
	X(server_omap_request)     \
	X(server_omap_waited)      \
	X(server_omap_departed)    \
	X(server_data_short)       \
	X(server_data_reclaim)     \
	X(server_data_sync_sent)   \
	X(client_omap_answered)    \
	X(client_regreeted)        \
	X(client_greeting_refused) \
	X(trans_data_wait)         \
	X(trans_commit)            \
	X(trans_commit_items)      \
	X(item_alloc)              \
	X(item_free)               \
	X(item_lookup)             \
	X(item_lookup_miss)        \
	X(item_range_hit)          \
	X(item_next)               \
	X(item_prev)               \
	X(item_create)             \
	X(item_update)             \
	X(item_delete)             \
	X(item_tombstone)          \
	X(item_read)               \
	X(item_read_stale)         \
	X(item_roots_lock)         \
	X(item_roots_server)       \
	X(item_read_race)          \
	X(item_range_alloc)        \
	X(item_range_free)         \
	X(item_shrink)             \
	X(item_shrink_range)       \
	X(item_invalidate)         \
	X(item_invalidate_item)    \
	X(item_commit_done)        \
	X(log_merge_finalize)      \
	X(log_merge_wait_active)   \
	X(log_merge_start)         \
	X(log_merge_request)       \
	X(log_merge_request_again) \
	X(log_merge_commit_unknown) \
	X(log_merge_commit_error)  \
	X(log_merge_stale_root)    \
	X(log_merge_reclaim)       \
	X(log_merge_splice)        \
	X(log_merge_complete)      \
	X(log_merge_freeing)       \
	X(log_merge_work)          \
	X(log_merge_remain)        \
	X(log_merge_error)         \
	X(log_merge_items)         \
	X(log_merge_deletions)     \
	X(log_merge_stale_logs)    \
	X(server_orphan_log_trees) \
	X(lock_request)            \
	X(lock_request_error)      \
	X(lock_grant)              \
	X(lock_grant_wait_us)      \
	X(lock_request_reset)      \
	X(lock_recovered)          \
	X(lock_get_error)          \
	X(lock_shrink)             \
	X(lock_invalidate_request) \
	X(lock_invalidate)         \
	X(lock_server_request)     \
	X(lock_server_grant)       \
	X(lock_server_invalidate)  \
	X(lock_server_response)    \
	X(lock_server_recovered)   \
	X(lock_server_request_replaced) \
	X(server_lock_recover_conflict) \
	X(server_lock_recovery_done) \
	X(server_lock_recovery_start) \
	X(server_recovery_prepared) \
	X(server_recovery_expired) \
	X(server_greeting_reclaimed) \
	X(server_farewell_held)    \
	X(client_farewell_on_disk) \
	X(client_farewell_error)   \
	X(fence_request)           \
	X(fence_fenced)            \
	X(fence_error)             \
	X(fence_timeout)           \
	X(self_fenced)             \
	X(block_write_fenced)      \
	X(server_reconnect_fence)  \
	X(server_failed)           \
	X(lock_server_stray_response) \
	X(srch_rotate_log)         \
	X(srch_search_log)         \
	X(srch_search_sorted)      \
	X(srch_search_sorted_block) \
	X(srch_compact_get)        \
	X(srch_compact_get_again)  \
	X(srch_compact_commit)     \
	X(srch_compact_done)       \
	X(srch_compact_freed)      \
	X(srch_compact_cancel)     \
	X(srch_compact_log)        \
	X(srch_compact_sorted)     \
	X(srch_compact_delete)     \
	X(srch_compact_progress)   \
	X(srch_compact_pad)        \
	X(srch_compact_entry)      \
	X(srch_compact_removed_entry) \
	X(srch_compact_error)      \
	X(ctl_connections)         \
	X(ctl_refused)             \
	X(ctl_requests)            \
	X(ctl_errors)              \
	X(ctl_malformed)           \
	X(ctl_denied)              \
	X(fuse_entries)            \
	X(fuse_forgets)            \
	X(fuse_kernel_invalidate)  \
	X(fuse_inval_deferred)     \
	X(omap_requests)           \
	X(omap_cached)             \
	X(orphan_deleted)          \
	X(orphan_kept_open)        \
	X(rename_retries)          \
	X(data_wait)               \
	X(data_read_split)         \
	X(data_wait_retry)         \
	X(data_wait_interrupted)   \
	X(quorum_elections)        \
	X(quorum_elected)          \
	X(quorum_writes)           \
	X(quorum_errors)           \
	X(quorum_old_leaders)      \
	X(quorum_server_starts)    \
	X(quorum_server_stops)     \
	X(quorum_term_follower)    \
	X(quorum_step_down)        \
	X(quorum_send_request)     \
	X(quorum_send_vote)        \
	X(quorum_send_heartbeat)   \
	X(quorum_send_resignation) \
	X(quorum_send_error)       \
	X(quorum_recv_request)     \
	X(quorum_recv_vote)        \
	X(quorum_recv_heartbeat)   \
	X(quorum_recv_resignation) \
	X(quorum_recv_invalid)     \
	X(quorum_recv_bad_hmac)    \
	X(quorum_recv_bad_fsid)    \
	X(quorum_recv_bad_type)    \
	X(quorum_recv_bad_slot)    \
	X(quorum_recv_replay)      \
	X(quorum_recv_old_term)    \
	X(quorum_recv_error)

enum sfs_counter {
#define SFS_COUNTER_ENUM(name) SFS_CTR_##name,
	SFS_COUNTERS(SFS_COUNTER_ENUM)
#undef SFS_COUNTER_ENUM
	SFS_CTR_NR,
};

struct sfs_counters {
	uint64_t vals[SFS_CTR_NR];
};

static inline void sfs_counter_add(struct sfs_fs *fs, enum sfs_counter c, uint64_t n)
{
	if (fs->counters)
		__atomic_add_fetch(&fs->counters->vals[c], n, __ATOMIC_RELAXED);
}

#define sfs_inc(fs, name) sfs_counter_add(fs, SFS_CTR_##name, 1)

static inline uint64_t sfs_counter_get(struct sfs_fs *fs, enum sfs_counter c)
{
	return fs->counters ? __atomic_load_n(&fs->counters->vals[c], __ATOMIC_RELAXED) : 0;
}

#define sfs_counter(fs, name) sfs_counter_get(fs, SFS_CTR_##name)

static inline const char *sfs_counter_name(enum sfs_counter c)
{
	static const char *const names[] = {
#define SFS_COUNTER_NAME(name) #name,
		SFS_COUNTERS(SFS_COUNTER_NAME)
#undef SFS_COUNTER_NAME
	};

	return (unsigned int)c < SFS_CTR_NR ? names[c] : "unknown";
}

#endif
