//! `gen apply`: pushing one host's reviewed subtree to it and running its entrypoint (to come).
