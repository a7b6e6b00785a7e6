#!/usr/bin/python3
# sandbox's ansible-playbook in the controller: one process serves every pass of a run, so
# Ansible is imported once (during the SSH wait) and Mitogen's interpreters on the targets
# outlive pass 1: pass 2 does not connect, bootstrap and import again (~2 s under gVisor).
#
#   sandbox-ansible-playbook pass N GO_FILE [MITOGEN]
#
# hands this exec's stdout, stderr and working directory to the run's server (pass 1 starts
# it unless one already serves: a warm set's, started by `serve [MITOGEN]` and warmed by a
# pass 0) and exits with pass N's ansible-playbook status. The server waits for GO_FILE (the
# arguments, one per line; nothing when the pass will not run), then runs ansible-playbook's
# own `main()` with that pass's arguments and SANDBOX_PASS in that directory, printing what
# a fresh ansible-playbook would print. With MITOGEN (its sources' directory) the server
# imports Mitogen first. sandbox (src/ansible/mod.rs) says every path this file uses but
# its own socket and log.
import os, socket, sys, threading, time

SOCKET = "/work/.sandbox-ansible.sock"
LOG = "/work/.sandbox-ansible.log"


def hand_over(connection, n, go):
    """Gives the server this exec's stdout, stderr and directory for pass n; exits with its
    status."""
    socket.send_fds(connection, ["\0".join([n, go, os.getcwd()]).encode()], [1, 2])
    status = connection.recv(16)
    if not status:
        sys.stderr.write("sandbox: ansible-playbook ended without an exit status (killed)\n")
        sys.exit(137)
    sys.exit(int(status))


def forward(pipe):
    """Mitogen's multiplexers print to the pass under way, as they would in ansible-playbook."""
    while True:
        chunk = os.read(pipe, 65536)
        if not chunk:
            return
        os.write(2, chunk)


def prepare(mitogen):
    """Imports Ansible; returns what the import printed (config warnings), for every pass."""
    # Live output, line by line, without PYTHONUNBUFFERED (which every child would inherit).
    sys.stdout.reconfigure(line_buffering=True)
    sys.stderr.reconfigure(line_buffering=True)
    log = os.open(LOG, os.O_RDWR | os.O_CREAT | os.O_TRUNC, 0o600)
    os.dup2(os.open(os.devnull, os.O_RDONLY), 0)
    os.dup2(log, 1)
    os.dup2(log, 2)
    from ansible.cli.playbook import main
    if mitogen:
        sys.path.insert(0, mitogen)
        import ansible_mitogen.process
        # Start the multiplexers now, off the critical path. What they print reaches the pass
        # under way through a pipe this process forwards: they outlive every pass's stream.
        read, write = os.pipe()
        os.dup2(write, 1)
        os.dup2(write, 2)
        ansible_mitogen.process.get_classic_worker_model()
        os.dup2(log, 1)
        os.dup2(log, 2)
        os.close(write)
        threading.Thread(target=forward, args=(read,), daemon=True).start()
    sys.stdout.flush()
    sys.stderr.flush()
    return main, log, os.pread(log, 1 << 20, 0)


def run_pass(main, n, directory, words, printed):
    """One pass, as a fresh ansible-playbook would run it."""
    from ansible import context
    from ansible.utils.context_objects import GlobalCLIArgs
    from ansible.utils.display import Display
    # A singleton would keep the first pass's arguments (its --limit) for ever.
    GlobalCLIArgs._Singleton__instance = None
    context.CLIARGS = context.CLIArgs({})
    # Display prints a warning once per process: once per pass, as before.
    display = Display()
    display._warns, display._deprecations, display._errors = {}, {}, {}
    os.environ["SANDBOX_PASS"] = n
    # A warm set's challenge is replaced by the attempt's: the server's directory is gone.
    os.chdir(directory)
    os.write(2, printed)
    sys.argv = ["ansible-playbook"] + words
    try:
        main()
        code = 0
    except SystemExit as exit:
        code = exit.code if isinstance(exit.code, int) else (0 if exit.code is None else 1)
    sys.stdout.flush()
    sys.stderr.flush()
    return code


def serve(listener, mitogen):
    try:
        main, log, printed = prepare(mitogen)
    except Exception:
        import traceback
        main, log, printed = None, 2, traceback.format_exc().encode()
    while True:
        connection, _ = listener.accept()
        message, fds, _, _ = socket.recv_fds(connection, 4096, 2)
        if not message or len(fds) != 2:
            connection.close()  # a launcher that went away before it asked
            continue
        n, go, directory = message.decode().split("\0")
        while not os.path.exists(go):
            time.sleep(0.005)
        with open(go) as f:
            text = f.read()
        words = text.split("\n") if text else []
        code = 0
        if main is None:
            os.write(fds[1], b"sandbox: the controller could not start Ansible:\n" + printed)
            code = 250
        elif words:
            os.dup2(fds[0], 1)
            os.dup2(fds[1], 2)
            code = run_pass(main, n, directory, words, printed)
            os.dup2(log, 1)
            os.dup2(log, 2)
        for fd in fds:
            os.close(fd)
        try:
            connection.sendall(str(code).encode())
        except OSError:
            pass  # its launcher went away: the next pass is served all the same
        connection.close()


def start_server(mitogen):
    """Pass 1 starts the run's server: a child in a session of its own, listening before
    the fork so that this pass can connect at once."""
    if os.path.exists(SOCKET):
        os.unlink(SOCKET)
    listener = socket.socket(socket.AF_UNIX)
    listener.bind(SOCKET)
    listener.listen(4)
    if os.fork() == 0:
        os.setsid()
        serve(listener, mitogen)
        os._exit(0)
    listener.close()


def connect():
    connection = socket.socket(socket.AF_UNIX)
    connection.connect(SOCKET)
    return connection


def launch():
    if sys.argv[1] == "serve":
        start_server(sys.argv[2] if len(sys.argv) > 2 else None)
        return
    n, go = sys.argv[2:4]
    mitogen = sys.argv[4] if len(sys.argv) > 4 else None
    try:
        connection = connect()
    except OSError as err:
        if n != "1":
            sys.stderr.write("sandbox: the controller's Ansible ended before pass %s (%s)\n" % (n, err))
            sys.exit(250)
        start_server(mitogen)
        connection = connect()
    hand_over(connection, n, go)


launch()
