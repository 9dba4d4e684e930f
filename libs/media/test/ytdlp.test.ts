import assert from 'node:assert/strict';
import { redactUrlCredentials } from '@finevideo/core';
import { buildYtDlpArgs, classifyDownloadError, ytDlpErrorMessage } from '@finevideo/media';

describe('yt-dlp arguments and error classes', () => {
  it('builds an argument array that ends with the URL after --', () => {
    const args = buildYtDlpArgs({ url: 'https://www.youtube.com/watch?v=abcdefghijk', outDir: '/tmp/x', format: 'best', maxFileSize: '500M', proxy: 'http://proxy:3128', cookiesFile: '/tmp/c.txt' });
    assert.deepEqual(args.slice(-2), ['--', 'https://www.youtube.com/watch?v=abcdefghijk']);
    assert.equal(args[args.indexOf('-f') + 1], 'best');
    assert.equal(args[args.indexOf('--max-filesize') + 1], '500M');
    assert.equal(args[args.indexOf('--proxy') + 1], 'http://proxy:3128');
    assert.equal(args[args.indexOf('--cookies') + 1], '/tmp/c.txt');
    assert.equal(args[args.indexOf('--retries') + 1], '0');
  });

  it('keeps a proxy with credentials off the command line, and out of error messages', () => {
    const args = buildYtDlpArgs({ url: 'https://www.youtube.com/watch?v=abcdefghijk', outDir: '/tmp/x', format: 'best', proxy: 'http://proxy:3128', secretProxy: 'http://u:pw@proxy:3128' });
    assert.ok(!args.includes('--proxy'), 'the secret proxy travels in the environment');
    assert.ok(!args.join(' ').includes('pw@'));
    assert.equal(redactUrlCredentials('Unable to connect to proxy http://u:pw@proxy:3128 and socks5h://a@b'), 'Unable to connect to proxy http://***@proxy:3128 and socks5h://***@b');
    assert.equal(ytDlpErrorMessage('ERROR: [generic] Tunnel via http://u:pw@proxy:3128 failed'), '[generic] Tunnel via http://***@proxy:3128 failed');
  });

  const cases: [string, ReturnType<typeof classifyDownloadError>][] = [
    ['[youtube] x: Video unavailable. This video has been removed by the uploader', 'unavailable'],
    ["[youtube] x: Private video. Sign in if you've been granted access to this video", 'unavailable'],
    ['[youtube] x: Sign in to confirm your age. This video may be inappropriate for some users.', 'signin'],
    ["[youtube] x: Sign in to confirm you’re not a bot. Use --cookies-from-browser or --cookies", 'signin'],
    ['unable to download video data: HTTP Error 403: Forbidden', 'signin'],
    ['Unable to download webpage: HTTP Error 429: Too Many Requests', 'rate_limited'],
    ['Unable to download webpage: HTTP Error 503: Service Unavailable', 'network'],
    ['Unable to download webpage: timed out (caused by TimeoutError)', 'network'],
    ['Unable to download webpage: <urlopen error [Errno 111] Connection refused>', 'network'],
    ['Unable to download webpage: HTTP Error 404: Not Found', 'unavailable'],
    ['something nobody has seen before', 'other'],
  ];
  for (const [message, expected] of cases) {
    it(`classifies "${message.slice(0, 50)}..." as ${expected}`, () => assert.equal(classifyDownloadError(message), expected));
  }

  it('keeps the ERROR lines without the report-this-issue boilerplate', () => {
    const stderr = 'WARNING: x\nERROR: [generic] None: Unable to download webpage: HTTP Error 404: Not Found (caused by <HTTPError 404>); please report this issue on  https://github.com/yt-dlp/yt-dlp/issues?q= , filling out the template\n';
    assert.equal(ytDlpErrorMessage(stderr), '[generic] None: Unable to download webpage: HTTP Error 404: Not Found (caused by <HTTPError 404>)');
  });
});
