// What `finevideo demo` needs besides the pipeline: a generated YouTube-Commons-like sample,
// generated videos, and a loopback server playing YouTube for the download stage. Production
// code (the launcher) may import this module; it never imports libs/testing (lint enforces it).
export * from './ytcommons-sample.js';
export * from './video.js';
export * from './video-server.js';
export * from './demo-media.js';
