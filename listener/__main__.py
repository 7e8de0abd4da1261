from listener.cli import main

# Guarded: scoring workers are started with "spawn", which imports the parent's main module
# in every worker; an unguarded main() would run the command again there.
if __name__ == "__main__":
    main()
