// New post: choose a photo (or drop one), see it, write a caption, add a
// place (an existing one, or a new one at your location or coordinates),
// and share it with a progress bar; with connected accounts (#/settings),
// also post it to them.
import { get, uploadMedia } from './api.js';
import { h, icon, busy, toast, field } from './dom.js';
import { shareChoices } from './shares.js';

const MAX_CAPTION = 2200;

export function uploadPage(view, ctx) {
  ctx.setTitle('New post');
  let file = null;
  let previewUrl = null;
  let place = { id: null, name: '' }; // an existing place picked from the list
  let coords = null; // {lat, lng} for a new place
  let uploading = false;
  ctx.onCleanup(() => { if (previewUrl) URL.revokeObjectURL(previewUrl); });

  // ---- the photo ----
  const fileInput = h('input', { type: 'file', accept: 'image/*', class: 'file-input', id: 'upload-file', 'data-testid': 'file-input' });
  const chooseLabel = h('label', { for: 'upload-file', class: 'btn btn-primary' }, 'Choose a photo');
  const drop = h('div', { class: 'dropzone', 'data-testid': 'dropzone' },
    h('span', { class: 'empty-icon' }, icon('image')),
    h('p', { class: 'empty-title' }, 'Share a photo'),
    h('p', { class: 'muted' }, 'JPEG, PNG, WebP, GIF or HEIC.'),
    chooseLabel);
  const previewImg = h('img', { class: 'preview-img', alt: 'Preview of the photo to share', 'data-testid': 'upload-preview' });
  const previewNote = h('p', { class: 'preview-note', hidden: true, 'data-testid': 'preview-note' });
  const fileName = h('span', { class: 'muted file-name', 'data-testid': 'file-name' });
  const changeLabel = h('label', { for: 'upload-file', class: 'btn btn-secondary btn-sm' }, 'Change photo');
  const preview = h('div', { class: 'preview', hidden: true, 'data-testid': 'preview' },
    h('div', { class: 'preview-frame' }, previewImg, previewNote),
    h('div', { class: 'preview-bar' }, fileName, changeLabel));

  previewImg.addEventListener('error', () => {
    if (!previewImg.getAttribute('src')) return;
    previewImg.hidden = true;
    previewNote.textContent = "This file can't be previewed. It may not be a photo; picogram will check it when you share.";
    previewNote.hidden = false;
  });
  previewImg.addEventListener('load', () => { previewImg.hidden = false; previewNote.hidden = true; });

  function choose(f) {
    showError(null);
    if (!f) return;
    if (f.size === 0) {
      showError('That file is empty. Choose a photo.');
      return;
    }
    if (f.type && !f.type.startsWith('image/')) {
      showError(`“${f.name}” is not a photo. Choose a JPEG, PNG, WebP, GIF or HEIC image.`);
      return;
    }
    file = f;
    if (previewUrl) URL.revokeObjectURL(previewUrl);
    previewUrl = URL.createObjectURL(f);
    previewImg.hidden = false;
    previewNote.hidden = true;
    previewImg.src = previewUrl;
    fileName.textContent = `${f.name} · ${formatSize(f.size)}`;
    preview.hidden = false;
    drop.hidden = true;
    details.hidden = false;
    share.disabled = false;
  }
  fileInput.addEventListener('change', () => choose(fileInput.files[0]));
  for (const el of [drop, preview]) {
    el.addEventListener('dragover', (e) => { e.preventDefault(); el.classList.add('dragging'); });
    el.addEventListener('dragleave', () => el.classList.remove('dragging'));
    el.addEventListener('drop', (e) => {
      e.preventDefault();
      el.classList.remove('dragging');
      if (e.dataTransfer.files.length) choose(e.dataTransfer.files[0]);
    });
  }

  // ---- caption ----
  const caption = h('textarea', { name: 'caption', rows: '3', maxlength: String(MAX_CAPTION), placeholder: 'Write a caption… #tags and @mentions work', 'data-testid': 'upload-caption' });
  const counter = h('span', { class: 'hint counter' }, `0 / ${MAX_CAPTION}`);
  caption.addEventListener('input', () => { counter.textContent = `${caption.value.length} / ${MAX_CAPTION}`; });

  // ---- place ----
  const placeName = h('input', { name: 'location_name', placeholder: 'Add a place', autocomplete: 'off', maxlength: '100', 'data-testid': 'place-name' });
  const useLoc = h('button', { type: 'button', class: 'btn btn-secondary btn-sm', 'data-testid': 'use-location' }, icon('pin'), 'Use my location');
  const coordsText = h('span', { class: 'muted coords', 'data-testid': 'place-coords' });
  const suggestions = h('ul', { class: 'suggestions', 'data-testid': 'place-suggestions' });
  const lat = h('input', { type: 'number', step: 'any', min: '-90', max: '90', placeholder: '37.8199', 'data-testid': 'place-lat' });
  const lng = h('input', { type: 'number', step: 'any', min: '-180', max: '180', placeholder: '-122.4783', 'data-testid': 'place-lng' });
  const manual = h('details', { class: 'manual-coords' },
    h('summary', null, 'Enter coordinates'),
    h('div', { class: 'row' }, field('Latitude', lat), field('Longitude', lng)));
  const chosen = h('div', { class: 'chip chosen-place', hidden: true, 'data-testid': 'chosen-place' });

  function paintCoords() {
    coordsText.textContent = coords ? `${coords.lat.toFixed(4)}, ${coords.lng.toFixed(4)}` : '';
  }
  function manualCoords() {
    const a = parseFloat(lat.value);
    const b = parseFloat(lng.value);
    coords = Number.isFinite(a) && Number.isFinite(b) ? { lat: a, lng: b } : null;
    paintCoords();
  }
  lat.addEventListener('input', manualCoords);
  lng.addEventListener('input', manualCoords);

  function pick(loc) {
    place = { id: loc.id, name: loc.name };
    placeName.value = loc.name;
    chosen.replaceChildren(icon('pin'), h('span', null, loc.name),
      h('button', { type: 'button', class: 'icon-btn', 'aria-label': 'Remove place', onclick: clearPick }, '×'));
    chosen.hidden = false;
    suggestions.replaceChildren();
  }
  function clearPick() {
    place = { id: null, name: '' };
    chosen.hidden = true;
    placeName.value = '';
  }

  let searchTimer = 0;
  let searchSeq = 0;
  async function suggest() {
    const q = placeName.value.trim();
    const seq = ++searchSeq;
    if (!q && !coords) {
      suggestions.replaceChildren();
      return;
    }
    try {
      const query = coords ? { lat: coords.lat, lng: coords.lng, distance: 5000, q: q || undefined, count: 8 } : { q, count: 8 };
      const { data } = await get('/v1/locations/search', query);
      if (seq !== searchSeq || !ctx.alive()) return;
      suggestions.replaceChildren(...data.slice(0, 8).map((loc) => h('li', null,
        h('button', { type: 'button', class: 'suggestion', 'data-testid': 'place-suggestion', onclick: () => pick(loc) },
          icon('pin'), h('span', null, loc.name)))));
    } catch {
      suggestions.replaceChildren();
    }
  }
  placeName.addEventListener('input', () => {
    if (place.id && placeName.value !== place.name) {
      place = { id: null, name: '' };
      chosen.hidden = true;
    }
    clearTimeout(searchTimer);
    searchTimer = setTimeout(suggest, 250);
  });

  useLoc.addEventListener('click', () => {
    if (!navigator.geolocation) {
      showError('Your browser cannot share its location. Enter the coordinates instead.');
      manual.open = true;
      return;
    }
    busy(useLoc, () => new Promise((resolve) => {
      navigator.geolocation.getCurrentPosition((pos) => {
        coords = { lat: pos.coords.latitude, lng: pos.coords.longitude };
        lat.value = coords.lat.toFixed(6);
        lng.value = coords.lng.toFixed(6);
        paintCoords();
        suggest();
        resolve();
      }, () => {
        showError("Couldn't get your location. Enter the coordinates instead.");
        manual.open = true;
        resolve();
      }, { timeout: 10000, maximumAge: 60000 });
    }));
  });

  // ---- progress, errors, share ----
  const progress = h('progress', { max: '100', value: '0', 'data-testid': 'upload-progress' });
  const progressText = h('span', { class: 'progress-text', 'data-testid': 'upload-status' });
  const progressBox = h('div', { class: 'upload-progress', hidden: true, role: 'status' }, progress, progressText);
  const error = h('p', { class: 'form-error', role: 'alert', hidden: true, 'data-testid': 'upload-error' });
  const share = h('button', { type: 'submit', class: 'btn btn-primary btn-block', disabled: true, 'data-testid': 'upload-submit' }, 'Share');

  function showError(msg) {
    error.textContent = msg || '';
    error.hidden = !msg;
  }

  // ---- elsewhere: the connected Mastodon-API accounts ----
  const elsewhere = shareChoices(ctx);

  const details = h('div', { class: 'upload-details', hidden: true },
    field('Caption', caption), counter,
    h('div', { class: 'field' },
      h('label', { for: 'place-name' }, 'Place'),
      h('div', { class: 'row place-row' }, placeName, useLoc),
      coordsText, chosen, suggestions, manual),
    elsewhere.el);
  placeName.id = 'place-name';

  const form = h('form', { class: 'form upload-form', 'data-testid': 'upload-form', novalidate: true },
    fileInput, drop, preview, details, progressBox, error, share);

  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    if (uploading) return;
    showError(null);
    if (!file) {
      showError('Choose a photo first.');
      return;
    }
    const fd = new FormData();
    fd.append('photo', file, file.name || 'photo.jpg');
    if (caption.value.trim()) fd.append('caption', caption.value.trim());
    const name = placeName.value.trim();
    if (place.id && name === place.name) {
      fd.append('location_id', place.id);
    } else if (coords) {
      fd.append('lat', String(coords.lat));
      fd.append('lng', String(coords.lng));
      if (name) fd.append('location_name', name);
    } else if (name) {
      showError('To add a new place, use your location or enter its coordinates, or pick a place from the list.');
      return;
    }
    const shareTo = elsewhere.selected();
    if (shareTo.length) fd.append('share', shareTo.join(','));
    uploading = true;
    form.classList.add('is-uploading');
    progressBox.hidden = false;
    progress.value = 0;
    progressText.textContent = 'Uploading… 0%';
    for (const el of form.querySelectorAll('input, textarea, button')) el.disabled = true;
    share.textContent = 'Sharing…';
    share.classList.add('is-busy');
    try {
      const media = await uploadMedia(fd, (f) => {
        const pct = Math.round(f * 100);
        progress.value = pct;
        progressText.textContent = pct < 100 ? `Uploading… ${pct}%` : 'Processing…';
      });
      progress.value = 100;
      progressText.textContent = 'Shared!';
      form.dataset.state = 'done';
      toast('Your photo is shared');
      setTimeout(() => { if (ctx.alive()) location.hash = `#/m/${encodeURIComponent(media.id)}`; }, 600);
    } catch (err) {
      if (!ctx.alive()) return;
      uploading = false;
      form.classList.remove('is-uploading');
      progressBox.hidden = true;
      for (const el of form.querySelectorAll('input, textarea, button')) el.disabled = false;
      share.textContent = 'Share';
      share.classList.remove('is-busy');
      showError(err.message);
    }
  });

  view.append(h('div', { class: 'page page-narrow page-upload' },
    h('div', { class: 'card card-pad' }, h('h1', { class: 'page-title' }, 'New post'), form)));
  return elsewhere.loaded;
}

function formatSize(n) {
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(0)} KB`;
  return `${(n / 1024 / 1024).toFixed(1)} MB`;
}
