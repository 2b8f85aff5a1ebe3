// flexgate console: progressive enhancement only; every page works without it.
(() => {
  document.documentElement.classList.add('js');

  // Team switcher: change team as soon as one is picked (the "Go" button stays for no-JS).
  for (const select of document.querySelectorAll('select[data-autosubmit]')) {
    select.addEventListener('change', () => select.form?.submit());
  }

  // "All products" makes the individual product boxes moot: grey them out while it is checked.
  // They are still sent (a disabled box is not): the API keeps that selection beside "all
  // products", where it decides nothing, so unticking the box later gives the member it back.
  for (const all of document.querySelectorAll('input[data-all-products]')) {
    const form = all.closest('form');
    const boxes = form?.querySelectorAll('input[name="product"]') ?? [];
    const sync = () => {
      for (const b of boxes) {
        b.disabled = all.checked;
        b.closest('label')?.classList.toggle('disabled', all.checked);
      }
    };
    all.addEventListener('change', sync);
    // The entry list is built after this handler: enabled now, the boxes are sent as they are.
    form?.addEventListener('submit', (event) => {
      if (event.defaultPrevented) return;
      for (const b of boxes) b.disabled = false;
    });
    // A page shown again by Back keeps the boxes as the submit left them: grey them out again.
    window.addEventListener('pageshow', sync);
    sync();
  }
})();
