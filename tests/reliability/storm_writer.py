"""A writer process for the reliability tests: it writes to one session as fast as it can,
through the same command table the CLI and the server use, until it is killed.

    python storm_writer.py DB DIR SEED ITERATIONS [DELAY [STOP_FILE]]

Adds come in batches of five titled ``w<seed>-b<n>-k<k>`` so a checker can tell a
half-written batch; status updates change up to three tasks in one call; edits keep the
batch prefix in the title. Prints ``ready`` once the store is open, then one line per
committed operation (``op <name> <json>``) so a test can account for every write. It
stops cleanly after ITERATIONS operations or as soon as STOP_FILE exists.
"""

from __future__ import annotations

import json
import os
import random
import sys
import time


def main() -> int:
    db, directory, seed_text, iterations_text = sys.argv[1:5]
    delay = float(sys.argv[5]) if len(sys.argv) > 5 else 0.0
    stop_file = sys.argv[6] if len(sys.argv) > 6 else None
    seed = int(seed_text)
    rng = random.Random(seed)

    from server.commands import Context, execute
    from store import NpError, Store

    statuses = ["pending", "in_progress", "completed", "failed", "cancelled"]
    with Store(db) as store:
        ctx = Context(store, directory, f"storm {seed}")
        mine: list[str] = []
        print("ready", flush=True)
        for n in range(int(iterations_text)):
            if stop_file and os.path.exists(stop_file):
                break
            roll = rng.random()
            try:
                if roll < 0.4 or len(mine) < 3:
                    result = execute(
                        "np.task.add",
                        ctx,
                        {"tasks": [{"title": f"w{seed}-b{n}-k{k}"} for k in range(5)]},
                    )
                    mine.extend(result["added"])
                    print("op add", json.dumps(result["added"]), flush=True)
                elif roll < 0.8:
                    ids = rng.sample(mine, 3)
                    updates = [{"id": i, "status": rng.choice(statuses)} for i in ids]
                    execute("np.task.update", ctx, {"updates": updates, "reason": "storm"})
                    print("op update", json.dumps(updates), flush=True)
                else:
                    task_id = rng.choice(mine)
                    title = next(
                        t["title"]
                        for t in execute("np.task.list", ctx, {})["tasks"]
                        if t["id"] == task_id
                    )
                    new_title = f"{title.split(' ')[0]} edited {n}"
                    execute(
                        "np.task.edit", ctx, {"id": task_id, "title": new_title, "reason": "storm"}
                    )
                    print("op edit", json.dumps([task_id, new_title]), flush=True)
            except NpError as exc:
                print(f"error {exc.kind} {exc.message}", flush=True)
                return 1
            if delay:
                time.sleep(delay)
    return 0


if __name__ == "__main__":
    sys.exit(main())
