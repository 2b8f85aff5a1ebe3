// flexgate console: progressive enhancement only; every page works without it.
(() => {
  document.documentElement.classList.add('js');

  // Team switcher: change team as soon as one is picked (the "Go" button stays for no-JS).
  for (const select of document.querySelectorAll('select[data-autosubmit]')) {
    select.addEventListener('change', () => select.form?.submit());
  }

  // Destructive forms ask first.
  for (const form of document.querySelectorAll('form[data-confirm]')) {
    form.addEventListener('submit', (event) => {
      if (!window.confirm(form.getAttribute('data-confirm') || 'Are you sure?')) event.preventDefault();
    });
  }

  // "All products" makes the individual product boxes moot: grey them out while it is checked.
  for (const all of document.querySelectorAll('input[data-all-products]')) {
    const boxes = all.closest('form')?.querySelectorAll('input[name="product"]') ?? [];
    const sync = () => {
      for (const b of boxes) {
        b.disabled = all.checked;
        b.closest('label')?.classList.toggle('disabled', all.checked);
      }
    };
    all.addEventListener('change', sync);
    sync();
  }
})();
