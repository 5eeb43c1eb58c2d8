"""HTTP: the resource tree, the Zulip envelope, and the site."""
