/* SPDX-License-Identifier: MIT */
/*
 * /sbin/e2fsprogs: mke2fs, e2fsck and resize2fs linked into one static
 * binary (scripts/build-musl-deps.sh), picked by the name it is called by.
 */
#ifndef E2FSPROGS_DISPATCH_H
#define E2FSPROGS_DISPATCH_H

/* The programs' own main()s, renamed when their objects are combined. */
int mke2fs_main(int argc, char **argv);
int e2fsck_main(int argc, char **argv);
int resize2fs_main(int argc, char **argv);

/* Runs the program named by basename(argv[0]), or, when that is
 * "e2fsprogs", by argv[1] with the arguments after it.  argv[0] reaches the
 * program unchanged: mke2fs and e2fsck read it too (mkfs.ext4 means -t ext4).
 * An unknown name is a usage error: a message naming the known ones, 2. */
int e2fsprogs_dispatch(int argc, char **argv);

#endif
