/**
 * The agent's view of a page: text, with every link as [label]. WebShop's agents read pages this way and
 * act with click[label]; the browser keeps the link targets.
 */
export interface RenderedPage {
  text: string;
  links: Array<{ label: string; href: string }>;
  searchBox: boolean;
}

const unescape = (s: string) => s.replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&quot;/g, '"').replace(/&amp;/g, '&');

export function renderPage(html: string): RenderedPage {
  const links: RenderedPage['links'] = [];
  let text = html.replace(/<a href="([^"]*)">([\s\S]*?)<\/a>/g, (_m, href: string, label: string) => {
    const clean = unescape(label.replace(/<[^>]+>/g, '')).trim();
    links.push({ label: clean.replace(/ \(selected\)$/, ''), href: unescape(href) });
    return ` [${clean}] `;
  });
  const searchBox = /<form action="\/search">/.test(html);
  text = text.replace(/<form[\s\S]*?<\/form>/g, ' [Search] ').replace(/<\/(p|div|li|h1|h2|ul)>/g, '\n').replace(/<[^>]+>/g, ' ');
  text = unescape(text).split('\n').map((l) => l.replace(/\s+/g, ' ').trim()).filter(Boolean).join('\n');
  return { text, links, searchBox };
}
