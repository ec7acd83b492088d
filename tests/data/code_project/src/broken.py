# expect-file: pinned-revision, remote-code, unsafe-load
def broken(:
    pass
