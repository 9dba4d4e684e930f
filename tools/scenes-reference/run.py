"""Reference run: PySceneDetect 0.6.x (as FineVideo ran it) on videos, cuts printed as JSON lines.

Usage: PYSCENEDETECT_SRC=/tmp/pyscenedetect-0.6.4 /usr/bin/python3 tools/scenes-reference/run.py [--scores] VIDEO...
PYSCENEDETECT_SRC is a folder holding PySceneDetect's `scenedetect` package (its source at the
v0.6.4-release tag); it is put first on sys.path so that version is the one imported. Needs OpenCV
(Debian: python3-opencv) and numpy. One JSON object per video on stdout:
{"file", "version", "opencv", "fps", "frames", "cuts", "scenes", "seconds"[, "scores"]}.
"""
import json
import os
import sys
import time

source = os.environ.get('PYSCENEDETECT_SRC')
if not source:
    sys.exit('PYSCENEDETECT_SRC is not set: expected the folder holding PySceneDetect 0.6.4\'s scenedetect package')
sys.path.insert(0, source)

import logging  # noqa: E402

import cv2  # noqa: E402
import scenedetect  # noqa: E402
from scenedetect import SceneManager, VideoManager  # noqa: E402
from scenedetect.detectors import ContentDetector  # noqa: E402
from scenedetect.stats_manager import StatsManager  # noqa: E402

# VideoManager logs a deprecation error on every use; the report goes to stdout only.
logging.getLogger('pyscenedetect').setLevel(logging.CRITICAL)


def detect(path, with_scores):
    started = time.perf_counter()
    video = VideoManager([path])
    stats = StatsManager() if with_scores else None
    manager = SceneManager(stats)
    # FineVideo's settings: threshold 15, default min_scene_len, weights and auto downscale.
    manager.add_detector(ContentDetector(threshold=15))
    video.start()
    frames = manager.detect_scenes(frame_source=video)
    scenes = manager.get_scene_list()
    cuts = [start.get_frames() for start, _ in scenes[1:]]
    report = {
        'file': path,
        'version': scenedetect.__version__,
        'opencv': cv2.__version__,
        'fps': video.get_framerate(),
        'frames': frames,
        'cuts': cuts,
        'scenes': [[start.get_frames(), end.get_frames()] for start, end in scenes],
        'seconds': time.perf_counter() - started,
    }
    if with_scores:
        report['scores'] = [stats.get_metrics(n, ['content_val'])[0] for n in range(frames)]
    video.release()
    return report


def main(arguments):
    with_scores = '--scores' in arguments
    paths = [a for a in arguments if a != '--scores']
    if not paths:
        sys.exit('usage: run.py [--scores] VIDEO...')
    for path in paths:
        print(json.dumps(detect(path, with_scores)), flush=True)


if __name__ == '__main__':
    main(sys.argv[1:])
