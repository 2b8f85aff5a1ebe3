import type { Child, FC } from 'hono/jsx';
import { Csrf } from './layout';

/**
 * A change asked about before it is made (a purchase, a move, a removal): plain forms, so it works
 * without JavaScript. Confirm posts `fields` again with step=confirm, the only post that acts;
 * Change (if offered) posts them with step=edit for the form as typed; Cancel is a link away.
 */
export const ConfirmPanel: FC<{
  /** Names the panel (`<name>-confirm`) and its question (`#<name>-question`). */
  name: string;
  question: string;
  action: string;
  csrf: string;
  /** The hidden fields Confirm and Change send back: what was typed, and the form's key. */
  fields: [string, string][];
  confirm: string;
  danger?: boolean;
  change?: boolean;
  cancel: string;
  hint: string;
  children: Child;
}> = ({ name, question, action, csrf, fields, confirm, danger = false, change = false, cancel, hint, children }) => (
  <section class={`panel ${name}-confirm`} aria-labelledby={`${name}-question`}>
    <h2 id={`${name}-question`}>{question}</h2>
    {children}
    <form method="post" action={action} class="filter-buttons">
      <Csrf token={csrf} />
      {fields.map(([k, v]) => (
        <input type="hidden" name={k} value={v} />
      ))}
      <button type="submit" name="step" value="confirm" class={danger ? 'btn danger' : 'btn primary'}>
        {confirm}
      </button>
      {change ? (
        <button type="submit" name="step" value="edit" class="btn">
          Change
        </button>
      ) : null}
      <a class="btn" href={cancel}>
        Cancel
      </a>
    </form>
    <p class="hint">{hint}</p>
  </section>
);
