// SPDX-License-Identifier: GPL-2.0
/*
 * Logging: format one line, tag it, hand it to the fs's sink.
 *
 * Lines are formatted into a stack buffer and written with a single
 * write(2)-sized stdio call so lines from different threads never
 * interleave mid-line.  A sink set by a test receives the tagged line
 * without the priority prefix.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "log.h"

void sfs_fs_log_init(struct sfs_fs *fs, const char *ident)
{
	fs->log_ident = ident;
	fs->log_level = LOG_INFO;
	fs->log_prio_prefix = false;
	fs->log_tag_ids = true;
	fs->log_fn = NULL;
	fs->log_arg = NULL;
}

void sfs_log(struct sfs_fs *fs, int prio, const char *fmt, ...)
{
	char line[1024];
	va_list ap;
	int off;

	if (prio > fs->log_level)
		return;

	if (fs->log_tag_ids)
		off = snprintf(line, sizeof(line), "%s f.%06llx r.%06llx: ",
			       fs->log_ident ? fs->log_ident : "scoutfs",
			       (unsigned long long)(fs->fsid >> 40),
			       (unsigned long long)(fs->rid >> 40));
	else
		off = snprintf(line, sizeof(line), "%s: ",
			       fs->log_ident ? fs->log_ident : "scoutfs");
	if (off < 0 || (size_t)off >= sizeof(line))
		off = 0;
	va_start(ap, fmt);
	vsnprintf(line + off, sizeof(line) - off, fmt, ap);
	va_end(ap);

	if (fs->log_fn) {
		fs->log_fn(fs->log_arg, prio, line);
		return;
	}
	if (fs->log_prio_prefix)
		fprintf(stderr, "<%d>%s\n", prio, line);
	else
		fprintf(stderr, "%s\n", line);
}
