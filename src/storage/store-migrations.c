/* SPDX-License-Identifier: Apache-2.0 */
#include "db-migrate.h"
#include "macros.h"

/*
 * The schema of <root>/crio-c.db, one step per version (user_version = number of steps run).
 * Append only: a released step never changes, since databases in the field already ran it.
 * Step 1 uses IF NOT EXISTS because stores made before versioning (user_version 0) have its tables.
 */
const DbMigration store_migrations[] = {
        {
                .what = "images and layers",
                .sql = "CREATE TABLE IF NOT EXISTS layers ("
                       "  chain_id TEXT PRIMARY KEY, diff_id TEXT NOT NULL, parent TEXT,"
                       "  link TEXT NOT NULL UNIQUE, blob_digest TEXT, size INTEGER NOT NULL,"
                       "  inodes INTEGER NOT NULL, created INTEGER NOT NULL);"
                       "CREATE TABLE IF NOT EXISTS images ("
                       "  id TEXT PRIMARY KEY, config_digest TEXT NOT NULL, manifest_digest TEXT NOT NULL,"
                       "  size INTEGER NOT NULL, pulled INTEGER NOT NULL, user TEXT NOT NULL);"
                       "CREATE TABLE IF NOT EXISTS image_layers ("
                       "  image_id TEXT NOT NULL, idx INTEGER NOT NULL, chain_id TEXT NOT NULL,"
                       "  PRIMARY KEY (image_id, idx));"
                       "CREATE INDEX IF NOT EXISTS image_layers_chain ON image_layers(chain_id);"
                       "CREATE TABLE IF NOT EXISTS image_tags (name TEXT PRIMARY KEY, image_id TEXT NOT "
                       "NULL);"
                       "CREATE TABLE IF NOT EXISTS image_digests ("
                       "  name TEXT NOT NULL, image_id TEXT NOT NULL, PRIMARY KEY (name, image_id));",
        },
        {
                /* src/runtime/runtime-state.c reads and writes these. */
                .what = "pods and containers",
                .sql = "CREATE TABLE IF NOT EXISTS pods ("
                       "  id TEXT PRIMARY KEY, seq INTEGER, doc TEXT NOT NULL);"
                       "CREATE TABLE IF NOT EXISTS containers ("
                       "  id TEXT PRIMARY KEY, seq INTEGER, pod_id TEXT NOT NULL, doc TEXT NOT NULL);",
        },
        /* Append new steps here. */
};

const size_t store_migrations_count = ELEMENTSOF(store_migrations);
