// Our own embedded demo pages against rtcdn in headless Chromium: /two_way_streaming.html
// (connect, publish, play its own stream) and /embed_player.html playing that stream from a
// second page, both checked by decoded video frames, then stop.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { expectVideoPlaying, launchBrowser, startServer, streamName, waitInPage } from './helpers.mjs';

const STATUS_TIMEOUT_MS = 10000;

/** Waits until the text of `selector` contains `wanted` (case-insensitive) or a failure word. */
async function waitText(page, selector, wanted, label) {
  const text = await waitInPage(
    page,
    ([sel, want]) => {
      const el = document.querySelector(sel);
      const t = el ? el.textContent.trim().toUpperCase() : '';
      return t.includes(want) || t.includes('FAILED') || t.includes('DISCONNECTED') ? t || 'EMPTY' : null;
    },
    [selector, wanted.toUpperCase()],
    STATUS_TIMEOUT_MS,
    `${label}: ${selector} never showed ${wanted}`,
  );
  assert.ok(text.includes(wanted.toUpperCase()), `${label}: ${selector} shows "${text}" instead of ${wanted}`);
}

/** Opens two_way_streaming.html (with `query`) and connects it to `server`. */
async function openTwoWay(browser, server, label, query) {
  const page = await browser.newPage(label);
  await page.goto(`${server.httpUrl}/two_way_streaming.html${query}`, { timeout: STATUS_TIMEOUT_MS });
  await page.fill('#urlServer', server.wsUrl);
  await page.click('#connectBtn');
  await waitText(page, '#connectStatus', 'ESTABLISHED', 'connect');
  return page;
}

test('demo pages: two_way_streaming publish + play, embed_player plays the same stream', { timeout: 50000 }, async () => {
  const server = await startServer({ codecs: 'opus,h264' });
  let browser = null;
  try {
    browser = await launchBrowser();
    const name = streamName('demo');

    const two = await openTwoWay(browser, server, 'two_way_streaming', '');

    await two.fill('#publishStream', name);
    await two.click('#publishBtn');
    await waitText(two, '#publishStatus', 'PUBLISHING', 'publish');

    await two.fill('#playStream', name);
    await two.click('#playBtn');
    await waitText(two, '#playStatus', 'PLAYING', 'play');
    await expectVideoPlaying(two, '#remoteVideo video, video#remoteVideo');

    const embed = await browser.newPage('embed_player');
    const query = new URLSearchParams({ urlServer: server.wsUrl, streamName: name, autoplay: 'true' });
    await embed.goto(`${server.httpUrl}/embed_player.html?${query}`, { timeout: STATUS_TIMEOUT_MS });
    const autoplayed = await embed
      .waitForFunction(() => /PLAYING/i.test(document.querySelector('#status')?.textContent || ''), undefined, {
        timeout: 4000,
      })
      .then(() => true)
      .catch(() => false);
    if (!autoplayed) await embed.click('#play');
    await waitText(embed, '#status', 'PLAYING', 'embed_player');
    await expectVideoPlaying(embed, '#remoteVideo video, video#remoteVideo');

    // Stopping the publisher ends both players: each is told STOPPED "Stopped by publisher
    // stop" (a FAILED, or a dropped session, is not that), and the sessions stay up.
    await two.click('#publishBtn');
    await waitText(two, '#publishStatus', 'UNPUBLISHED', 'publisher stop');
    const ended = await waitInPage(
      embed,
      () => {
        const t = (document.querySelector('#status')?.textContent || '').toUpperCase();
        return /STOPPED|UNPUBLISHED|FAILED|DISCONNECTED/.test(t) ? t : null;
      },
      undefined,
      STATUS_TIMEOUT_MS,
      'embed_player: no end status after the publisher stopped',
    );
    assert.equal(ended, 'STOPPED', 'embed_player #status after the publisher stopped');
    const embedStream = await embed.evaluate(() => ({
      status: window.playingStream.status(),
      info: window.playingStream.getInfo(),
    }));
    assert.deepEqual(embedStream, { status: 'STOPPED', info: 'Stopped by publisher stop' }, 'embed_player stream');
    await waitText(two, '#playStatus', 'STOPPED', 'two_way_streaming player after the publisher stopped');
    const twoWay = await two.evaluate(() => ({
      play: [window.twoWay.playStream.status(), window.twoWay.playStream.getInfo()],
      session: window.twoWay.session.status(),
    }));
    assert.deepEqual(
      twoWay,
      { play: ['STOPPED', 'Stopped by publisher stop'], session: 'ESTABLISHED' },
      'two_way_streaming after the publisher stopped',
    );
  } catch (e) {
    console.log(`--- rtcdn output (last 4000 chars) ---\n${server.output().slice(-4000)}`);
    throw e;
  } finally {
    if (browser) await browser.close();
    await server.stop();
  }
});

test('demo page: with Simulcast ticked the publisher offers rids l, m, h and its stream plays', { timeout: 40000 }, async () => {
  const server = await startServer({ codecs: 'opus,vp8' });
  let browser = null;
  try {
    browser = await launchBrowser();
    const name = streamName('demo-simulcast');
    const two = await openTwoWay(browser, server, 'two_way_streaming simulcast', '?simulcast=true');
    assert.equal(await two.isChecked('#simulcast'), true, '?simulcast=true ticks the box');
    await two.fill('#publishStream', name);
    await two.click('#publishBtn');
    await waitText(two, '#publishStatus', 'PUBLISHING', 'publish');
    assert.equal(await two.isDisabled('#simulcast'), true, 'the box is locked while publishing');
    const offer = await two.evaluate(() => window.twoWay.publishStream.peerConnection().localDescription.sdp);
    const lines = offer.split(/\r?\n/).filter((l) => /^a=(rid|simulcast):/.test(l));
    assert.deepEqual(lines, ['a=rid:l send', 'a=rid:m send', 'a=rid:h send', 'a=simulcast:send l;m;h'], 'simulcast lines of the offer');
    const info = await two.textContent('#publishInfo');
    assert.match(info, /^Simulcast: /, 'the page says what the answer kept');
    console.log(`[demo] simulcast offer: ${lines.join(' | ')}; page: "${info}"`);

    await two.fill('#playStream', name);
    await two.click('#playBtn');
    await waitText(two, '#playStatus', 'PLAYING', 'play');
    await expectVideoPlaying(two, '#remoteVideo video, video#remoteVideo');
  } catch (e) {
    console.log(`--- rtcdn output (last 4000 chars) ---\n${server.output().slice(-4000)}`);
    throw e;
  } finally {
    if (browser) await browser.close();
    await server.stop();
  }
});
