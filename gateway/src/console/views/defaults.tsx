import type { Product } from '@flexgate/shared';
import type { FC } from 'hono/jsx';
import { teamPath } from './format';
import { Csrf } from './layout';
import { ProductPicker, productList } from './members';

export const DefaultsView: FC<{ team: { id: string; name: string }; csrf: string; catalog: Product[]; defaults: string[] }> = ({
  team,
  csrf,
  catalog,
  defaults,
}) => (
  <>
    <h1>Default products</h1>
    <p class="lead">
      {defaults.length > 0 ? (
        <>
          Every non-guest member of {team.name} may use <strong>{productList({ allProducts: false, products: defaults }, catalog)}</strong>{' '}
          on top of their own selection.
        </>
      ) : (
        <>Defaults are off: members get only the products selected for them.</>
      )}
    </p>
    <section class="panel rules" aria-label="How defaults work">
      <ul>
        <li>
          <strong>Guests never get the default products.</strong> A guest uses only the products selected for them.
        </li>
        <li>Defaults apply to every non-guest member, new and existing, at once.</li>
        <li>A product added to the catalog later is not added to the defaults.</li>
        <li>Clearing every product turns defaults off. Changing defaults sends no e-mail.</li>
      </ul>
    </section>
    <section class="panel">
      <form method="post" action={teamPath(team.id, '/defaults')} class="stack">
        <Csrf token={csrf} />
        <ProductPicker catalog={catalog} selected={defaults} legend="Default products" />
        <div>
          <button type="submit" class="btn primary">
            Save defaults
          </button>
        </div>
      </form>
    </section>
  </>
);
