#!/usr/bin/python3
"""Request lists for bench/scenarios.sh, from a bench_seed dataset
(deterministic: the same dataset gives the same lists).

  scenario_lists.py DB OUT_DIR

Writes OUT_DIR/{user,media,user-recent,like,comment,follow,mixed}: one
"METHOD PATH [FORM-BODY]" per line (see bench/scenario.lua).
Writes come in pairs that undo each other (like then unlike, follow then
unfollow), so a long run does not drift; the mixed list is 100 reads to 1
write, as Instagram's ratio was.
"""
import os
import random
import sqlite3
import sys

db, out = sys.argv[1], sys.argv[2]
os.makedirs(out, exist_ok=True)
c = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
rnd = random.Random(20111006)
tokened = {r[0] for r in c.execute("SELECT user_id FROM tokens")}
users = [r[0] for r in c.execute("SELECT id FROM users ORDER BY id LIMIT 2000") if r[0] not in tokened]
media = [r[0] for r in c.execute("SELECT id FROM media ORDER BY id DESC LIMIT 5000")]
N = 2000


def pick(xs):
    return xs[rnd.randrange(len(xs))]


lists = {
    "user": [f"GET /v1/users/{pick(users)}" for _ in range(N)],
    "media": [f"GET /v1/media/{pick(media)}" for _ in range(N)],
    "user-recent": [f"GET /v1/users/{pick(users)}/media/recent?count=20" for _ in range(N)],
}
like, comment, follow = [], [], []
for _ in range(N // 2):
    m = pick(media)
    like += [f"POST /v1/media/{m}/likes", f"DELETE /v1/media/{m}/likes"]
    comment.append(f"POST /v1/media/{pick(media)}/comments text=bench+comment+%23picogram")
    u = pick(users)
    follow += [f"POST /v1/users/{u}/relationship action=follow", f"POST /v1/users/{u}/relationship action=unfollow"]
lists.update(like=like, comment=comment, follow=follow)
reads = ["GET /v1/users/self/feed?count=20"] * 4 + ["user", "media", "user-recent"]
mixed = []
for i in range(N * 5):
    if i % 101 == 100:
        m = pick(media)
        mixed.append(pick([f"POST /v1/media/{m}/likes", f"POST /v1/media/{m}/comments text=mixed"]))
    else:
        r = pick(reads)
        mixed.append(r if r.startswith("GET") else pick(lists[r]))
lists["mixed"] = mixed
for name, lines in lists.items():
    with open(os.path.join(out, name), "w") as f:
        f.write("\n".join(lines) + "\n")
