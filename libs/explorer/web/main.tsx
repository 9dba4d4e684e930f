import { render } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import './style.css';
import { Overview } from './overview';
import { Dataset } from './dataset';
import { VideoPage } from './video';
import { SqlPage } from './sql';

/** Hash routes: #/ (overview), #/dataset?<filters>, #/video/<id>. Back and forward work; nothing is fetched from elsewhere. */
export interface Route {
  page: 'overview' | 'dataset' | 'video' | 'sql';
  id?: string;
  params: URLSearchParams;
}

export function parseRoute(hash: string): Route {
  const [path = '', query = ''] = hash.replace(/^#/, '').split('?');
  const params = new URLSearchParams(query);
  const video = /^\/video\/([A-Za-z0-9_-]{11})$/.exec(path);
  if (video) return { page: 'video', id: video[1]!, params };
  if (path === '/dataset') return { page: 'dataset', params };
  if (path === '/sql') return { page: 'sql', params };
  return { page: 'overview', params };
}

export const navigate = (hash: string) => {
  if (location.hash !== hash) location.hash = hash;
};

function App() {
  const [route, setRoute] = useState(() => parseRoute(location.hash));
  useEffect(() => {
    const onHash = () => setRoute(parseRoute(location.hash));
    addEventListener('hashchange', onHash);
    return () => removeEventListener('hashchange', onHash);
  }, []);
  useEffect(() => {
    // A new page: focus moves to its heading, so keyboard and screen-reader users land on the content.
    document.querySelector<HTMLElement>('main h1')?.focus();
  }, [route.page, route.id]);
  const tab = (page: Route['page'], href: string, label: string) => (
    <a href={href} class={route.page === page ? 'tab active' : 'tab'} aria-current={route.page === page ? 'page' : undefined}>{label}</a>
  );
  return (
    <>
      <header class="top">
        <span class="brand">finevideo <b>explore</b></span>
        <nav aria-label="Pages">
          {tab('overview', '#/', 'Run overview')}
          {tab('dataset', '#/dataset', 'Dataset')}
          {tab('sql', '#/sql', 'Query')}
        </nav>
        <span class="readonly" title="The server only reads the run">read-only</span>
      </header>
      <main id="main">
        {route.page === 'overview' && <Overview />}
        {route.page === 'dataset' && <Dataset params={route.params} />}
        {route.page === 'sql' && <SqlPage params={route.params} />}
        {route.page === 'video' && route.id && <VideoPage id={route.id} params={route.params} />}
      </main>
    </>
  );
}

render(<App />, document.getElementById('root')!);
