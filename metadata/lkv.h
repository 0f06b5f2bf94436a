/*
 * metadata/lkv.h - an order-preserving map with long keys over one LMDB
 * named database (private to metadata/).
 *
 * LMDB keys are at most 511 bytes (mdb_env_get_maxkeysize with the default
 * build); object and upload keys here reach ~1100 bytes.  lkv stores full
 * keys of any length up to LKV_KEY_MAX, and iterating it visits them in
 * exactly memcmp order of the full keys (shorter first on a common prefix).
 *
 * Scheme (also in docs/on-disk-format-metadata.md).  Every LMDB key is
 *     parent id (8 bytes big-endian) + segment + type byte.
 * The root's parent id is 0.  A full key K of at most LKV_SEG bytes under
 * parent p is stored as p + K + 0x00 (a leaf; the LMDB value is the
 * caller's value).  A longer key is split: the group entry
 * p + K[0:LKV_SEG] + 0x01 holds an 8-byte big-endian child id c (the value),
 * and K[LKV_SEG:] is stored recursively under parent c.  Child ids come
 * from a counter kept in the same database under the key
 * 0xff x 8 + "next-id" (value: next id, 8 bytes BE), which sorts after
 * every entry.  Ids are never reused; a group entry is removed when its
 * child range becomes empty.
 *
 * Why the order holds: within one parent, a leaf's 0x00 terminator sorts
 * before any continuation byte of a longer segment and before the 0x01 of
 * a group with the same segment, so "K" < "K..." as in memcmp; groups all
 * have segments of exactly LKV_SEG bytes, so two groups or a group and a
 * longer leaf compare at a differing byte.  A cursor walks depth first: at
 * a group it descends into the child range, and when that range ends it
 * resumes after the group entry.
 *
 * Every function works inside a caller-provided transaction (write txn for
 * put/del) and returns 0, MDB_NOTFOUND where stated, -EINVAL for a key
 * longer than LKV_KEY_MAX, META_ECORRUPT for an entry that breaks the
 * scheme, -ENOMEM, or an LMDB error code.
 *
 * Thread rules: as LMDB's: a cursor belongs to the transaction's thread.
 */
#ifndef CAIRN_METADATA_LKV_H
#define CAIRN_METADATA_LKV_H

#include <lmdb.h>
#include <stddef.h>
#include <stdint.h>

#define LKV_SEG 502                          /* 511 - 8 (parent) - 1 (type) */
#define LKV_KEY_MAX 4096                     /* longest full key */
#define LKV_DEPTH_MAX (LKV_KEY_MAX / LKV_SEG + 1)

/* Insert or replace. */
int lkv_put(MDB_txn *txn, MDB_dbi dbi, const void *key, size_t klen, const void *val, size_t vlen);
/* *val points into LMDB: valid until the txn ends or is modified.
 * MDB_NOTFOUND if absent. */
int lkv_get(MDB_txn *txn, MDB_dbi dbi, const void *key, size_t klen, MDB_val *val);
/* Remove (and any group entries left empty).  MDB_NOTFOUND if absent. */
int lkv_del(MDB_txn *txn, MDB_dbi dbi, const void *key, size_t klen);

/*
 * Cursor.  Calling sequence: lkv_cursor_open() -> seek_ge() -> next() ...
 * -> lkv_cursor_close() (before the txn ends).  seek_ge and next return 0
 * with the entry in *key (the reassembled full key: valid until the next
 * call on this cursor) and *val (valid as for lkv_get), or MDB_NOTFOUND at
 * the end.  Do not modify the database through other calls while walking
 * a cursor in a write txn; seek again after modifications.
 */
struct lkv_cursor;

int lkv_cursor_open(MDB_txn *txn, MDB_dbi dbi, struct lkv_cursor **out);
void lkv_cursor_close(struct lkv_cursor *c); /* NULL ok */
/* First entry whose full key is >= key (memcmp order). */
int lkv_cursor_seek_ge(struct lkv_cursor *c, const void *key, size_t klen, MDB_val *k, MDB_val *v);
int lkv_cursor_next(struct lkv_cursor *c, MDB_val *k, MDB_val *v);
/* Number of LMDB cursor operations this cursor has made (cost probe). */
uint64_t lkv_cursor_steps(const struct lkv_cursor *c);

/* Smallest byte string greater than every string that starts with s:
 * drop trailing 0xff bytes and add one to the last remaining byte.  Writes
 * to out (at least n bytes) and returns the new length; 0 means no such
 * string exists (s empty or all 0xff). */
size_t lkv_prefix_successor(const void *s, size_t n, uint8_t *out);

#endif
