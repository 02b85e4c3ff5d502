#!/usr/bin/python3
"""Checks the invariants of a picogram dataset spread over SQLite files.

  check_db.py FILE|URL...   (SQLite files, or postgresql:// URLs)

Prints a JSON object: {"rows": {table: count}, "duplicates": {table: [ids]},
"counters": [mismatches], "nodes": [ID node numbers seen], "misplaced":
[rows of hash-keyed tables whose stored shard is unset or another database's]}. Every table's
IDs must be unique across all files (the logical shards are split over
them), and every counter must equal the rows it counts, wherever those
rows are.
"""
import json
import sqlite3
import sys
from collections import Counter

ID_COLUMNS = {  # table -> its ID column (IDs made by the server)
    'users': 'id', 'media': 'id', 'comments': 'id', 'activity': 'id', 'jobs': 'id',
    'likes': 'id', 'locations': 'id', 'media_tags': 'id',
}


class Pg:
    """A psycopg2 connection that answers execute() with rows, as sqlite3's does."""

    def __init__(self, url):
        import psycopg2
        self.c = psycopg2.connect(url)
        self.c.set_session(readonly=True, autocommit=True)

    def execute(self, sql):
        cur = self.c.cursor()
        cur.execute(sql)
        return cur.fetchall()


def connect(target):
    if target.startswith('postgresql:'):
        return Pg(target)
    return sqlite3.connect(f'file:{target}?mode=ro', uri=True)


def main(files):
    dbs = [connect(f) for f in files]
    rows, dups, nodes = {}, {}, set()
    for table, col in ID_COLUMNS.items():
        ids = [r[0] for db in dbs for r in db.execute(f'SELECT {col} FROM {table}')]
        rows[table] = len(ids)
        c = Counter(ids)
        d = [str(i) for i, k in c.items() if k > 1]
        if table in ('media_tags',):  # one tag ID per applied tag: a photo's caption tags share the photo's
            d = []
        if d:
            dups[table] = d[:20]
        if table in ('users', 'media', 'comments', 'likes'):
            nodes.update((i >> 4) & 63 for i in ids)

    def count(sql):
        out = Counter()
        for db in dbs:
            for k, n in db.execute(sql):
                out[k] += n
        return out

    media_of = count('SELECT user_id, COUNT(*) FROM media GROUP BY user_id')
    follows = count('SELECT user_id, COUNT(*) FROM following WHERE status = 1 GROUP BY user_id')
    followed = count('SELECT user_id, COUNT(*) FROM followers WHERE status = 1 GROUP BY user_id')
    likes = count('SELECT media_id, COUNT(*) FROM likes GROUP BY media_id')
    comments = count('SELECT media_id, COUNT(*) FROM comments GROUP BY media_id')
    liked = count('SELECT media_id, COUNT(*) FROM liked GROUP BY media_id')
    bad = []
    for db in dbs:
        for uid, mc, fc, fbc in db.execute('SELECT id, media_count, follows_count, followed_by_count FROM users'):
            for name, have, want in (('media_count', mc, media_of[uid]), ('follows_count', fc, follows[uid]),
                                     ('followed_by_count', fbc, followed[uid])):
                if have != want:
                    bad.append(f'user {uid} {name} {have} != {want} rows')
        for mid, lc, cc in db.execute('SELECT id, like_count, comment_count FROM media'):
            if lc != likes[mid]:
                bad.append(f'media {mid} like_count {lc} != {likes[mid]} likes')
            if lc != liked[mid]:
                bad.append(f'media {mid} like_count {lc} != {liked[mid]} rows in likers\' lists')
            if cc != comments[mid]:
                bad.append(f'media {mid} comment_count {cc} != {comments[mid]} comments')
    # every edge's mirror: following (truth) against followers
    fw = set()
    for db in dbs:
        fw.update(db.execute('SELECT user_id, target_id, status FROM following'))
    fr = set()
    for db in dbs:
        fr.update((f, u, s) for u, f, s in db.execute('SELECT user_id, follower_id, status FROM followers'))
    for e in sorted(fw ^ fr)[:20]:
        bad.append(f'edge {e} is on one side only')
    # the tables kept by a hashed key store its logical shard (migration 12):
    # every row's is set, and is one of its own database's (the shards are
    # split evenly over the databases given, in order)
    misplaced = []
    for i, db in enumerate(dbs):
        lo, hi = i * 8192 // len(dbs), (i + 1) * 8192 // len(dbs) - 1
        for table, key in (('usernames', 'username_lower'), ('tags', 'name'), ('tag_media', 'tag')):
            for k, shard in db.execute(f'SELECT {key}, shard FROM {table} WHERE shard < {lo} OR shard > {hi}'):
                misplaced.append(f'{table} {k!r} shard {shard} on database {i} (shards {lo}-{hi})')
    print(json.dumps({'rows': rows, 'duplicates': dups, 'counters': bad[:50], 'nodes': sorted(nodes),
                      'misplaced': misplaced[:20]}))


if __name__ == '__main__':
    main(sys.argv[1:])
