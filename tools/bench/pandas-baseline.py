# The original approach in its own language: every YouTube-Commons shard read fully into memory with
# pandas, concatenated, then the contract filters (en/en, word_count > 50) and the word-density filter
# (> 0.5 words per second). Prints {"kept": n, "maxRssBytes": n} on stdout.
#   python3 tools/bench/pandas-baseline.py DIR
import json
import os
import re
import resource
import sys

import pandas as pd

folder = sys.argv[1]
frames = [pd.read_parquet(os.path.join(folder, f)) for f in sorted(os.listdir(folder)) if f.endswith('.parquet')]
df = pd.concat(frames, ignore_index=True)
df = df[(df['original_language'] == 'en') & (df['transcription_language'] == 'en') & (df['word_count'] > 50)]


def seconds(d):
    if d is None or d == '':
        return 0
    if not re.fullmatch(r'\d+(:\d+){0,2}', str(d)):
        return None
    total = 0
    for part in str(d).split(':'):
        total = total * 60 + int(part)
    return total


durations = df['duration_string'].map(seconds)
ok = durations.notna() & (durations > 0)
density = df['word_count'][ok] / durations[ok].astype(float)
kept = int((density > 0.5).sum())
print(json.dumps({'kept': kept, 'maxRssBytes': resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024}))
