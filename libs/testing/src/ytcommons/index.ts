// The YouTube-Commons-like sample generator is the demo's (libs/demo); tests import it from here too.
export { generateYtCommonsShards, type YtCommonsExpectation, type YtCommonsSampleOptions } from '@finevideo/demo';
