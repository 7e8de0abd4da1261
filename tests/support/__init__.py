"""What the tests share: local servers, fakes, the browser, processes, paths."""
