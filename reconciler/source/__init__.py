"""Source: where revisions of the desired state come from, the first step of every reconcile.

`git.Source` is the contract (`resolve`, `checkout`, `describe`); `git.LocalRepoSource` and
`git.RemoteSource` are the real ones, `fake.FakeSource` the in-memory twin. `watch` notices pushes
(`RefWatcher`) or polls (`Poller`); `webhook` verifies push notifications. Errors: `errors`.
"""
