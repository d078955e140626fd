// SPDX-License-Identifier: GPL-2.0
/* scoutfs: the admin and archive agent CLI, see cli.c */
int sfs_cli_main(int argc, char **argv);

int main(int argc, char **argv)
{
	return sfs_cli_main(argc, argv);
}
