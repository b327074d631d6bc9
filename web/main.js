// The page's glue, kept small: everything measured and checked is Rust (../src/lib.rs).
import init, { profile, zoo_models } from './pkg/splitbench_web.js';

const $ = (id) => document.getElementById(id);
const query = new URLSearchParams(location.search);
let last = null;

function say(line) {
  $('status').textContent += line + '\n';
  console.log('splitbench: ' + line);
}

function link(id, name, text, type) {
  const a = $(id);
  a.href = URL.createObjectURL(new Blob([text], { type }));
  a.download = name;
}

function show(out) {
  const r = out.result;
  const c = r.check;
  $('summary').textContent = `${out.summary}; output vs CPU reference: max |diff| ` +
    `${c.max_abs_diff.toExponential(2)} (max |ref| ${c.max_abs_ref.toFixed(3)})`;
  link('csv', 'device_profile.csv', r.profile_csv, 'text/csv');
  link('json', 'device_profile.json', r.manifest_json, 'application/json');
  for (const part of ['kernels', 'pruned']) {
    const text = r[`${part}_csv`];
    $(`${part}-link`).hidden = !text;
    if (text) link(`${part}-link`, `device_profile_${part}.csv`, text, 'text/csv');
  }
  const max = Math.max(...out.bars.map((b) => b.ms), 1e-9);
  $('bars').replaceChildren(...out.bars.map((b) => {
    const row = document.createElement('div');
    row.className = 'bar';
    row.innerHTML = '<span class="name"></span><span class="fill"></span><span class="ms"></span>';
    row.children[0].textContent = `${b.node} (${b.op})`;
    row.children[1].style.width = `${(100 * b.ms) / max}%`;
    row.children[2].textContent = `${b.ms.toFixed(3)} ms`;
    return row;
  }));
  $('result').hidden = false;
}

// Sends the result to the `splitbench web` that served this page, which saves the files.
async function send(result) {
  const res = await fetch('result', { method: 'POST', body: JSON.stringify(result) });
  const text = await res.text();
  if (!res.ok) throw new Error(`server: ${res.status} ${text}`);
  say(`sent: ${text}`);
}

// What the browser says its adapter is (wgpu gives no name on the web).
async function adapterInfo() {
  const a = await navigator.gpu?.requestAdapter({ powerPreference: 'high-performance' });
  const i = a?.info ?? {};
  return { vendor: i.vendor ?? '', architecture: i.architecture ?? '', device: i.device ?? '',
    description: i.description ?? '' };
}

async function run(req, onnx) {
  $('status').textContent = '';
  req.adapter = await adapterInfo();
  $('result').hidden = true;
  const out = JSON.parse(await profile(JSON.stringify(req), onnx, say));
  last = out.result;
  show(out);
  say('done');
  return out;
}

function request() {
  return {
    model: $('model').value,
    input: $('input').value.trim() || null,
    batch: Number($('batch').value),
    reps: Number($('reps').value),
    warmup: Number($('warmup').value),
    kernels: $('kernels').checked,
    user_agent: navigator.userAgent,
  };
}

async function main() {
  await init();
  for (const name of zoo_models()) $('model').add(new Option(name, name));
  $('model').value = 'resnet18-cifar';
  if (!navigator.gpu) say('this browser has no WebGPU (navigator.gpu is missing): see README');
  $('send').onclick = () => send(last).catch((e) => say(`error: ${e.message}`));
  $('form').onsubmit = async (ev) => {
    ev.preventDefault();
    const file = $('onnx').files[0];
    const req = request();
    let onnx;
    if (file) {
      req.model = file.name;
      onnx = new Uint8Array(await file.arrayBuffer());
    }
    $('run').disabled = true;
    try { await run(req, onnx); } catch (e) { say(`error: ${e.message ?? e}`); }
    $('run').disabled = false;
  };
  // ?auto=1&model=M&batch=B&reps=R&warmup=W[&input=CxHxW][&onnx=FILE]: run at once and
  // send the result to the server (what scripts/web-profile.sh drives in a headless
  // browser); FILE is an ONNX model served beside the page.
  if (query.get('auto') === '1') {
    for (const k of ['model', 'input', 'batch', 'reps', 'warmup']) {
      if (query.has(k)) $(k).value = query.get(k);
    }
    const timing = query.get('timing');
    if (query.has('kernels')) $('kernels').checked = query.get('kernels') === '1';
    try {
      const req = request();
      if (timing) req.timing = timing;
      let onnx;
      if (query.has('onnx')) {
        req.model = query.get('onnx');
        const res = await fetch(req.model);
        if (!res.ok) throw new Error(`${req.model}: HTTP ${res.status}`);
        onnx = new Uint8Array(await res.arrayBuffer());
      }
      await run(req, onnx);
      await send(last);
    } catch (e) {
      say(`error: ${e.message ?? e}`);
      await fetch('error', { method: 'POST', body: String(e.message ?? e) }).catch(() => {});
    }
  }
}

main().catch((e) => say(`error: ${e.message ?? e}`));
