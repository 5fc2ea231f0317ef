// Lets a library folder start empty while it is being written.
